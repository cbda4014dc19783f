"""`serve_calls`: one pipecat pipeline per answered SIP call (`voice.sip_transport.run_sip_server`).

The endpoint answers; each call gets its own `SIPTransport` and the pipeline `make_pipeline`
builds on it, run by its own worker until the pipeline ends (the caller hung up, or an EndFrame
hung up on them). When the pipeline is gone the endpoint hangs up a call still up, so a crashed
pipeline never leaves a caller listening to silence.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.workers.runner import WorkerRunner

from telephony import Call, SipEndpoint

if TYPE_CHECKING:
    from voice.sip_transport import SIPParams, SIPTransport

log = logging.getLogger(__name__)

MakePipeline = Callable[["SIPTransport", Call], "Pipeline | PipelineWorker | Awaitable[Pipeline | PipelineWorker]"]
MakeTransport = Callable[[Call, SipEndpoint], "SIPTransport"]


def parse_hostport(sip: str) -> tuple[str, int]:
    """Pure: "HOST:PORT" (or "[v6]:PORT") → (host, port); a clear ValueError otherwise."""
    host, sep, port = sip.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"sip must be HOST:PORT, got {sip!r}")
    return host, int(port)


def worker_for(pipeline: "Pipeline | PipelineWorker", params: "SIPParams") -> PipelineWorker:
    """A make_pipeline's result as a worker: a Pipeline gets one at the transport's rates."""
    if isinstance(pipeline, PipelineWorker):
        return pipeline
    if not isinstance(pipeline, Pipeline):
        raise TypeError(f"make_pipeline must return a Pipeline or PipelineWorker, got {type(pipeline).__name__}")
    return PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=params.audio_in_sample_rate,
                              audio_out_sample_rate=params.audio_out_sample_rate),
        cancel_on_idle_timeout=False,  # a caller thinking in silence is not idle
        enable_rtvi=False,
    )


async def serve_calls(make_pipeline: MakePipeline, make_transport: MakeTransport, params: "SIPParams",
                      sip: str | None = None, *, ready: Callable[[SipEndpoint], None] | None = None) -> None:
    """Answer calls on `sip` ("HOST:PORT"; else params' host and port) until cancelled.

    `make_transport(call, endpoint)` wraps each answered call; `make_pipeline(transport, call)`
    (plain or async) returns its Pipeline (or PipelineWorker); `ready(endpoint)` runs once the
    endpoint listens (its `port` is the bound one).
    """
    if sip is not None:
        host, port = parse_hostport(sip)
        params = params.model_copy(update={"host": host, "port": port})
    endpoint: SipEndpoint | None = None

    async def on_call(call: Call) -> None:
        transport = make_transport(call, endpoint)
        made = make_pipeline(transport, call)
        if inspect.isawaitable(made):
            made = await made
        worker = worker_for(made, params)
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        await runner.run()

    endpoint = SipEndpoint(params.endpoint_config(), on_call)
    await endpoint.start()
    log.info("SIP listening on %s:%d", params.host, endpoint.port)
    try:
        if ready is not None:
            ready(endpoint)
        await asyncio.Event().wait()  # until cancelled
    finally:
        await endpoint.stop()


__all__ = ["MakePipeline", "MakeTransport", "parse_hostport", "serve_calls", "worker_for"]
