from services.campaigns.server import MIGRATIONS, build
from services.runtime.server import main

main("campaigns", build, MIGRATIONS)
