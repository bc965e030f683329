from services.points.models import Base
from services.runtime.migrations import run

run(Base.metadata)
