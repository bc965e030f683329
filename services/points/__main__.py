from services.points.server import MIGRATIONS, build, check
from services.runtime.server import main

main("points", build, MIGRATIONS, {"check": check})
