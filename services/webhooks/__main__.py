from services.runtime.server import main
from services.webhooks.models import MIGRATIONS
from services.webhooks.server import build

main("webhooks", build, MIGRATIONS)
