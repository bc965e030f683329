from services.campaigns.models import Base
from services.runtime.migrations import run

run(Base.metadata)
