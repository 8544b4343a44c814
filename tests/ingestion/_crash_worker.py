"""A worker process that stops dead in the middle of a job, for the crash-recovery test.

argv: home, marker file, stage ("embedding" or "committing"). When it reaches the
stage it writes the marker and sleeps until the test kills it with SIGKILL.
"""

import sys
import time
from pathlib import Path
from typing import Any

from core.settings import Settings
from ingestion import pipeline
from ingestion.service import Ingestion


def _stall(marker: Path) -> Any:
    def stall(*args: Any, **kwargs: Any) -> None:
        marker.write_text("stalled")
        time.sleep(600)

    return stall


def main() -> None:
    home, marker, stage = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    service = Ingestion(Settings(home=home))
    if stage == "embedding":
        service.embedder.embed = _stall(marker)  # type: ignore[method-assign]
    else:  # after the vectors reached Chroma, inside the SQL transaction that would commit them
        pipeline.catalog.replace_content = _stall(marker)
    service.run_until_idle()


if __name__ == "__main__":
    main()
