from services.runtime.migrations import run
from services.webhooks.models import Base

run(Base.metadata)
