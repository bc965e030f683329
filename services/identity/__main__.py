from services.identity.server import MIGRATIONS, build
from services.runtime.server import main

main("identity", build, MIGRATIONS)
