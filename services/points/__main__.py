from services.points.server import MIGRATIONS, build
from services.runtime.server import main

main("points", build, MIGRATIONS)
