"""What a stage is to the consumer loop: a batch handler that returns the records it rejects.

The loop (govwatch.loop) calls a handler with a batch of Kafka records; the handler produces or indexes its output,
waits for the acknowledgement, and returns the records it rejects for good (by their index in the batch), each with
the permanent error that the loop dead-letters it with. Any exception it raises instead fails the whole batch,
which the loop retries. Stages depend on this contract, never on the loop itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from govwatch.errors import PermanentError

# index in the batch -> the permanent error that rejects that record
Rejections = dict[int, PermanentError]
BatchHandler = Callable[[Sequence[Any]], Rejections]
