from services.campaigns.models import MIGRATIONS
from services.campaigns.server import build, rebuild, reconcile_command
from services.runtime.server import main

main("campaigns", build, MIGRATIONS, {"rebuild": rebuild, "reconcile": reconcile_command})
