"""vLLM launcher: one OpenAI-compatible server per GPU group, and the endpoint registry `vllm:<name>` reads.

`make serve-vllm MODEL=<hf id or path> GPUS=0,1,3 [PORT_BASE=8000] [TP=1] [HOST=127.0.0.1] [NAME=] [EXTRA=] [TIMEOUT=900]`
splits GPUS into groups of TP and starts, for group i,

    vllm serve <MODEL> --host <HOST> --port <PORT_BASE+i> --tensor-parallel-size <TP> --served-model-name <NAME> <EXTRA>

with CUDA_VISIBLE_DEVICES=<group>, as a detached process (its own session, so it outlives `make`).
Its output goes to `<results>/serving/<NAME>-<port>.log`; `<results>/serving/servers.json` records
pid, port, GPUs, model, name, log, command and start time. The launcher waits until every
`GET /health` answers 200 (TIMEOUT seconds); if a server exits or the time runs out it stops every
server it started and fails with the tail of the failing log. Then it writes the registry
(`shared.llm.endpoints`: NCUSIM_VLLM_REGISTRY or `<results>/serving/endpoints.json`), replacing the
entry for NAME and keeping the others. The registry's served model name is what the servers list
at `/v1/models` (NAME for vLLM).

VLLM_SERVER_CMD replaces the vLLM command by a template with the placeholders {model} {host} {port}
{gpus} {tp} {name}; it is split like a shell line (shlex, never run through a shell), each
placeholder filled inside its word, other braces left alone, and EXTRA appended. The tests use
`transformers serve {model} --host {host} --port {port} --device cpu` with the embedded model.

`stop_servers()` stops exactly what servers.json lists: a pid is signalled only while its
command line and start time are still the ones recorded (a recycled pid is never touched);
SIGTERM to the process group, SIGKILL after a grace period. Servers bind 127.0.0.1 unless HOST
says otherwise. Pass a server key through the environment (VLLM_API_KEY, which vLLM and the
kit's client both read); an `--api-key` value in EXTRA is masked in servers.json and messages.
Needs Linux (/proc).

The package: `commands` (planning, pure), `process` (process identity), `registry` (servers.json
and the endpoint registry), `launch` (serve, health, stop, status).
"""

from shared.serving.commands import (
    DEFAULT_GRACE_S,
    DEFAULT_PORT_BASE,
    DEFAULT_TIMEOUT_S,
    gpu_groups,
    masked,
    port_in_use,
    served_name,
    server_command,
    serving_dir,
    state_path,
)
from shared.serving.launch import ServePlan, plan, serve, status_rows, status_table, stop_entries, stop_servers
from shared.serving.process import _args_digest, is_ours
from shared.serving.registry import read_state

__all__ = [
    "DEFAULT_GRACE_S",
    "DEFAULT_PORT_BASE",
    "DEFAULT_TIMEOUT_S",
    "ServePlan",
    "_args_digest",
    "gpu_groups",
    "is_ours",
    "masked",
    "plan",
    "port_in_use",
    "read_state",
    "serve",
    "served_name",
    "server_command",
    "serving_dir",
    "state_path",
    "status_rows",
    "status_table",
    "stop_entries",
    "stop_servers",
]
