"""Start the transformers demo suite: one Gradio app, a tab per task, all served through one model cache."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn
from unittest import mock

import gradio as gr
import gradio.networking
import httpx
import torch

from demos import DEMOS, TASKS, layout, messages, sessions, system, translation
from demos.common import KEYBOARD_HINT
from demos.tab import Tab
from gradio_defences import app_kwargs as defences_kwargs
from gradio_defences import keep_built_files, private_temp_folder
from shared.bundled import bundled_directory
from shared.device import DEVICE_CHOICES
from shared.errors import ModelUnavailable
from shared.hub_status import HubStatus, check_hub, go_offline
from shared.limits import (
    DEFAULT_CONCURRENCY_LIMIT,
    DEFAULT_MAX_QUEUED_PER_CLIENT,
    MAX_QUEUED_REQUESTS,
    MAX_UPLOAD_MB,
    QUEUE_WAIT_SECONDS,
)
from shared.loading import Loader, load
from shared.model_choices import ModelChoice, parse_model_override
from shared.openmp import release_thread_pool
from shared.runtime import Runtime
from shared.settings import BACKENDS, Settings, default_cache_dir, default_serve_config
from shared.stand_ins import STAND_IN_SIZES
from shared.web_defences import DEFAULT_UPLOAD_FOLDER_MB, DEFAULT_UPLOAD_MB_PER_CLIENT, parse_networks

logger = logging.getLogger("app")

# Gradio rebuilds a pandas summary of up to 10,000 past events after every request, CPU taken from the models, for
# its monitoring dashboard, which this app never enables. Read when the queue is created; recompute it only every
# million events unless the environment says otherwise.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000000")

TITLE = "Transformers demo suite"
HEADER = (
    "# Transformers demo suite\n"
    "What transformer models do, one task per tab: classify sentiment, classify against your own labels, "
    "find answers in a text, generate text with your decoding settings, and segment a photo. Then look inside: "
    "how text becomes tokens, how a model fills a blank, what embeddings and attention look like, and how the "
    "sampling settings reshape the next-token odds. Every tab is also an API endpoint for `gradio_client`."
)
# Theme variables only (plus an amber tint mixed into the theme's own background), so that every custom element reads
# in the light and the dark theme alike.
CSS = """
.stand-in-banner, .offline-banner {
    border: 2px solid #f59e0b; border-radius: 8px; padding: 4px 12px;
    background: color-mix(in srgb, #f59e0b 14%, var(--background-fill-primary));
}
.stand-in-banner .stand-in-banner, .offline-banner .offline-banner { border: none; padding: 0; background: none; }
.stand-in-banner *, .offline-banner * { color: var(--body-text-color); }
/* Gradio writes a highlighted span's text in black over its colour at half strength, whatever the theme: black on a
   dark tint in the dark theme. (Inline, hence !important.) */
.dark .token.highlighted { color: var(--body-text-color) !important; }
"""

# flag -> environment variable that gives its default
ENVIRONMENT = {
    "host": "DEMO_HOST",
    "port": "DEMO_PORT",
    "share": "DEMO_SHARE",
    "auth": "DEMO_AUTH",
    "auth_file": "DEMO_AUTH_FILE",
    "device": "DEMO_DEVICE",
    "model": "DEMO_MODELS",
    "preload": "DEMO_PRELOAD",
    "max_memory_gb": "DEMO_MAX_MEMORY_GB",
    "stand_ins": "DEMO_STAND_INS",
    "cache_dir": "DEMO_CACHE_DIR",
    "cpu_int8": "DEMO_CPU_INT8",
    "backend": "DEMO_BACKEND",
    "ray_address": "DEMO_RAY_ADDRESS",
    "serve_config": "DEMO_SERVE_CONFIG",
    "mcp": "DEMO_MCP",
    "trusted_proxy": "DEMO_TRUSTED_PROXIES",
    "allowed_host": "DEMO_ALLOWED_HOSTS",
    "allow_framing_from": "DEMO_ALLOW_FRAMING_FROM",
    "max_queued_per_client": "DEMO_MAX_QUEUED_PER_CLIENT",
    "upload_folder_mb": "DEMO_UPLOAD_FOLDER_MB",
    "upload_mb_per_client": "DEMO_UPLOAD_MB_PER_CLIENT",
    "queue_wait_seconds": "DEMO_QUEUE_WAIT_SECONDS",
}


def switch(text: str) -> bool:
    """An on/off environment variable: 1, true, yes, on or 0, false, no, off (any case)."""
    word = text.strip().lower()
    if word not in {"1", "true", "yes", "on", "0", "false", "no", "off", ""}:
        raise ValueError("expected 1, true, yes or on (or 0, false, no, off)")
    return word in {"1", "true", "yes", "on"}


def backend_name(text: str) -> str:
    if text.strip() not in BACKENDS:
        raise ValueError(f"expected one of {', '.join(BACKENDS)}")
    return text.strip()


def parse_auth(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise argparse.ArgumentTypeError("--auth expects USER:PASS")
    return user, password


def auth_list(text: str) -> list[tuple[str, str]]:
    """Comma-separated USER:PASS logins, as DEMO_AUTH gives them."""
    return [parse_auth(item) for item in text.split(",") if item.strip()]


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError("expected a whole number") from None


def decimal_number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError("expected a number") from None


def stand_in_size(text: str) -> str:
    if text not in STAND_IN_SIZES:
        raise ValueError(f"expected one of {', '.join(STAND_IN_SIZES)}")
    return text


def read_auth_file(path: Path) -> list[tuple[str, str]]:
    """USER:PASS logins, one a line; blank lines and lines starting with # are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise argparse.ArgumentTypeError(f"--auth-file {path}: {error.strerror}") from error
    return [parse_auth(line.strip()) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def comma_list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def share_warning(settings: Settings) -> str | None:
    if settings.share and not settings.auth:
        return "--share without --auth: anyone with the link can use this app and its API."
    return None


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__,
        epilog="Each flag can also be set with the environment variable named in its help.",
    )
    env = {name: environ.get(variable) for name, variable in ENVIRONMENT.items()}
    unparsed: list[str] = []

    def from_environment(name: str, parse: Callable[[str], Any], fallback: Any = None) -> Any:
        """A flag's default from its environment variable; values that do not parse end, once every flag is added,
        in one usage error naming each variable (exit code 2), as a bad flag does."""
        text = env[name]
        if not text:
            return fallback
        try:
            return parse(text)
        except (ValueError, argparse.ArgumentTypeError) as error:
            unparsed.append(f"{ENVIRONMENT[name]}={text!r}: {error}")
            return fallback

    parser.add_argument("--host", default=env["host"] or "127.0.0.1", help="Address to serve on [DEMO_HOST].")
    parser.add_argument("--port", type=int, default=from_environment("port", integer, 7860), help="Port [DEMO_PORT].")
    parser.add_argument(
        "--share",
        action="store_true",
        default=from_environment("share", switch, False),
        help="Also serve through a public Gradio share link; protect it with --auth [DEMO_SHARE=1].",
    )
    parser.add_argument(
        "--auth",
        type=parse_auth,
        action="append",
        metavar="USER:PASS",
        default=from_environment("auth", auth_list, []),
        help="Require this login for the page and the API; repeatable [DEMO_AUTH=user:pass,user2:pass2].",
    )
    parser.add_argument(
        "--auth-file",
        type=Path,
        default=Path(env["auth_file"]) if env["auth_file"] else None,
        metavar="PATH",
        help="Also accept the USER:PASS logins in this file, one a line (# starts a comment) [DEMO_AUTH_FILE].",
    )
    parser.add_argument(
        "--device",
        default=env["device"] or "auto",
        help=f"Where models run: {', '.join(DEVICE_CHOICES)} or cuda:N; auto picks CUDA, then MPS, then CPU "
        "[DEMO_DEVICE].",
    )
    parser.add_argument(
        "--model",
        action="append",
        metavar="TASK=HUB_ID_OR_LOCAL_DIR",
        default=[item for item in (env["model"] or "").split(",") if item.strip()],
        help=f"Add a model to a task's allowlist and make it the default; tasks: {', '.join(TASKS)}; repeatable "
        "[DEMO_MODELS=task=id,task2=id2].",
    )
    parser.add_argument(
        "--preload",
        action="store_true",
        default=from_environment("preload", switch, False),
        help="Load every tab's default model in the background at start-up [DEMO_PRELOAD=1].",
    )
    parser.add_argument(
        "--max-memory-gb",
        type=float,
        default=from_environment("max_memory_gb", decimal_number),
        help="Evict least recently used idle models to stay under this many GB of weights [DEMO_MAX_MEMORY_GB].",
    )
    parser.add_argument(
        "--stand-ins",
        choices=STAND_IN_SIZES,
        default=from_environment("stand_ins", stand_in_size),
        help="Serve random-weight stand-ins of the real architectures instead of Hub models: tiny (tests, "
        "offline demos of the UI) or full (real sizes, for benchmarks). Outputs are meaningless [DEMO_STAND_INS].",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(env["cache_dir"]) if env["cache_dir"] else default_cache_dir(),
        help="Where stand-ins are built [DEMO_CACHE_DIR].",
    )
    parser.add_argument(
        "--cpu-int8",
        action="store_true",
        default=from_environment("cpu_int8", switch, False),
        help="Quantise the text models' linear layers to int8 (dynamic) on the CPU: faster, slightly different "
        "scores; ignored on GPUs [DEMO_CPU_INT8=1].",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=from_environment("backend", backend_name, "in-process"),
        help="Where the models run: in this process, or on Ray Serve replicas (pip install -r "
        'requirements-ray.txt; see the README\'s "Serving a bigger audience") [DEMO_BACKEND].',
    )
    parser.add_argument(
        "--ray-address",
        default=env["ray_address"] or None,
        metavar="HOST:PORT",
        help="With --backend ray: the Ray cluster to join (`ray start --head` prints it); without it a private "
        "Ray runs on this machine, on loopback only [DEMO_RAY_ADDRESS].",
    )
    parser.add_argument(
        "--serve-config",
        type=Path,
        default=Path(env["serve_config"]) if env["serve_config"] else default_serve_config(),
        metavar="PATH",
        help="With --backend ray: the Serve applications to deploy (replicas, queue bounds, autoscaling, CPUs/GPUs) "
        "[DEMO_SERVE_CONFIG].",
    )
    parser.add_argument(
        "--mcp",
        action="store_true",
        default=from_environment("mcp", switch, False),
        help="Also serve every endpoint as an MCP tool for AI assistants, at /gradio_api/mcp (needs the gradio[mcp] "
        "extra) [DEMO_MCP=1].",
    )
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        metavar="ADDRESS_OR_NETWORK",
        default=comma_list(env["trusted_proxy"]),
        help="A reverse proxy in front of the app (e.g. 127.0.0.1 or 10.0.0.0/8): only its X-Forwarded-For, "
        "-Host and -Proto headers are believed; repeatable [DEMO_TRUSTED_PROXIES=a,b].",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        default=comma_list(env["allowed_host"]),
        help="A host name the app is reached by, besides IP addresses, localhost and the share link; requests "
        "for other names are refused; repeatable [DEMO_ALLOWED_HOSTS=a,b].",
    )
    parser.add_argument(
        "--allow-framing-from",
        action="append",
        metavar="ORIGIN",
        default=comma_list(env["allow_framing_from"]),
        help="A site that may show the app in a frame (https://course.example.org); by default only the app's own "
        "pages may; repeatable [DEMO_ALLOW_FRAMING_FROM=a,b].",
    )
    parser.add_argument(
        "--max-queued-per-client",
        type=int,
        default=from_environment("max_queued_per_client", int, DEFAULT_MAX_QUEUED_PER_CLIENT),
        metavar="N",
        help="Requests one browser session, script or client address may have waiting or running at once "
        f"(default {DEFAULT_MAX_QUEUED_PER_CLIENT}); raise it when a class shares one NAT address "
        "[DEMO_MAX_QUEUED_PER_CLIENT].",
    )
    parser.add_argument(
        "--queue-wait-seconds",
        type=float,
        default=from_environment("queue_wait_seconds", decimal_number, QUEUE_WAIT_SECONDS),
        metavar="S",
        help="Each endpoint queues as many requests as its measured service time lets it answer within this wait "
        f"(default {QUEUE_WAIT_SECONDS:g}); past it a visitor is told to come back later [DEMO_QUEUE_WAIT_SECONDS].",
    )
    parser.add_argument(
        "--upload-folder-mb",
        type=float,
        default=from_environment("upload_folder_mb", float, DEFAULT_UPLOAD_FOLDER_MB),
        metavar="MB",
        help="Uploads and outputs kept on disk; past it the oldest files go [DEMO_UPLOAD_FOLDER_MB].",
    )
    parser.add_argument(
        "--upload-mb-per-client",
        type=float,
        default=from_environment("upload_mb_per_client", float, DEFAULT_UPLOAD_MB_PER_CLIENT),
        metavar="MB",
        help="What one client address may upload in any 10 minutes; past it uploads are refused (429) "
        "[DEMO_UPLOAD_MB_PER_CLIENT].",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="Fetch every task's default model into the Hugging Face cache and exit, to run offline afterwards "
        "with HF_HUB_OFFLINE=1. Run it again offline to check that everything is there.",
    )
    if unparsed:
        parser.error("; ".join(unparsed))
    return parser


def parse_settings(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    parser = build_parser(environ)
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.model:
        try:
            task, model_id = parse_model_override(item, set(TASKS))
        except ValueError as error:
            parser.error(str(error))
        overrides[task] = model_id
    try:
        parse_networks(args.trusted_proxy)
    except ValueError as error:
        parser.error(f"--trusted-proxy: {error}")
    if args.max_queued_per_client < 1:
        parser.error("--max-queued-per-client must be at least 1")
    if not 0 < args.queue_wait_seconds <= 3600:
        parser.error("--queue-wait-seconds must be more than 0 and at most 3600")
    if args.auth_file is not None:
        try:
            args.auth.extend(read_auth_file(args.auth_file))
        except argparse.ArgumentTypeError as error:
            parser.error(str(error))
    return Settings(
        host=args.host,
        port=args.port,
        share=args.share,
        auth=tuple(args.auth),
        device=args.device,
        model_overrides=overrides,
        preload=args.preload,
        max_memory_gb=args.max_memory_gb,
        stand_ins=args.stand_ins,
        cache_dir=args.cache_dir,
        cpu_int8=args.cpu_int8,
        mcp=args.mcp,
        download=args.download,
        backend=args.backend,
        ray_address=args.ray_address,
        serve_config=args.serve_config,
        trusted_proxies=tuple(args.trusted_proxy),
        allowed_hosts=tuple(args.allowed_host),
        frame_ancestors=tuple(args.allow_framing_from),
        max_queued_per_client=args.max_queued_per_client,
        upload_folder_mb=args.upload_folder_mb,
        upload_mb_per_client=args.upload_mb_per_client,
        queue_wait_seconds=args.queue_wait_seconds,
    )


def offline_notice(status: HubStatus | None) -> str | None:
    """The banner over the tabs when the Hub cannot be reached and some tabs' default models are not on this disk."""
    if status is None or not status.offline_gaps:
        return None
    tabs = [
        f"**{TASKS[task].title}** ({', '.join(f'`{model_id}`' for model_id in ids)})"
        for task, ids in status.offline_gaps.items()
    ]
    return (
        "📴 **Offline.** The Hugging Face Hub cannot be reached, and these tabs' models are not on this disk: "
        + "; ".join(tabs)
        + ". Those tabs need `python app.py --download` first (once, with a network), or start the app with "
        "`--stand-ins tiny` to try the interface with random-weight stand-ins. The other tabs work."
    )


def hub_status(runtime: Runtime) -> HubStatus | None:
    """At start-up: can the Hub be reached, and which default models are on this disk? Said in the log; offline,
    every later load looks in the local cache only, so a missing model fails at once instead of retrying."""
    if runtime.settings.stand_ins:
        return None
    status = check_hub((task, choice.model_id) for task, choice, _ in default_models(runtime))
    if not status.reachable:
        go_offline()
        logger.warning("The Hugging Face Hub cannot be reached: models load from the local cache only.")
    for task, ids in status.missing.items():
        for model_id in ids:
            if status.reachable:
                logger.info("%s: %s is not cached yet; it is downloaded on first use.", task, model_id)
            else:
                logger.warning("%s: %s is not on this disk; this tab needs `python app.py --download`.", task, model_id)
    if not status.reachable and not any(status.missing.values()):
        logger.info("Every default model is on this disk: the app works offline.")
    return status


def build_app(runtime: Runtime, status: HubStatus | None = None) -> gr.Blocks:
    # delete_cache: Gradio's copies of uploads and outputs older than an hour are removed every hour.
    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600)) as app:
        gr.Markdown(HEADER)
        gr.Markdown(KEYBOARD_HINT)
        if notice := offline_notice(status):
            gr.Markdown(notice, elem_classes=["offline-banner"])
        # Wrapped onto a second row when the window is narrow, instead of hidden behind Gradio's "⋯" menu: every tab
        # is one click away on a laptop and on a phone.
        with gr.Tabs(overflow_behavior="wrap"):
            for demo in DEMOS:
                with gr.Tab(demo.title, id=demo.task):
                    demo.build_tab(Tab(demo, runtime))
            with gr.Tab(system.TITLE, id="system") as system_tab:
                system.build_tab(runtime, system_tab)
    keep_built_files(app)
    return app


def default_models(runtime: Runtime) -> list[tuple[str, ModelChoice, Loader]]:
    """What each tab runs before a visitor picks anything (its `Demo.default_model_ids`)."""
    models = []
    for demo in DEMOS:
        choices = runtime.choices(demo.task, list(demo.models))
        models += [(demo.task, choice, demo.loader) for choice in demo.default_models(choices)]
    return models


def fetch_model(loader: Loader, model_id: str) -> None:
    """Load a model from the Hub once, on the CPU, and drop it: that caches exactly the files the app will load."""
    load(loader, model_id, "cpu", torch.float32, model_id)


def download_models(runtime: Runtime, fetch: Callable[[Loader, str], None] | None = None) -> list[str]:
    """Fetch each task's default model into the Hugging Face cache (with `fetch_model` unless told otherwise);
    return what failed, with why."""
    fetch = fetch or fetch_model
    failed, fetched = [], set()
    for task, choice, loader in default_models(runtime):
        if (loader, choice.model_id) in fetched:
            continue  # several tabs run the same model (the Sentiment tab's classifiers, opened up and evaluated)
        fetched.add((loader, choice.model_id))
        if Path(choice.model_id).is_dir() or bundled_directory(choice.model_id):
            logger.info("%s: %s is on this disk already; nothing to fetch", task, choice.model_id)
            continue
        logger.info("%s: fetching %s", task, choice.model_id)
        try:
            fetch(loader, choice.model_id)
        except ModelUnavailable as error:
            failed.append(f"{task}: {error}")
    return failed


def queue_kwargs() -> dict:
    """A bounded queue (a bound on memory: each endpoint's own, smaller bound is gradio_defences.FairQueue's)."""
    return dict(max_size=MAX_QUEUED_REQUESTS, default_concurrency_limit=DEFAULT_CONCURRENCY_LIMIT)


def launch_kwargs(settings: Settings) -> dict:
    return dict(
        server_name=settings.host,
        server_port=settings.port,
        share=settings.share,
        auth=list(settings.auth) or None,
        max_file_size=f"{MAX_UPLOAD_MB}mb",
        mcp_server=settings.mcp,
        theme=gr.themes.Soft(),
        css=CSS + layout.CSS,
        i18n=translation.I18N,  # the page in the browser's language (demos/translation.py)
    )


def page_answers(url: str, seconds: float = 60.0) -> bool:
    """Whether the page at `url` answers within `seconds`. Gradio's own start-up check gives up after 3 s, which a
    machine busy with models (or a CI run beside a browser) can take to render this app's page."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.head(url, timeout=max(deadline - time.monotonic(), 1.0)).status_code < 500:
                return True
        except httpx.HTTPError:
            time.sleep(0.5)
    return False


def launch(runtime: Runtime, *, block: bool = True) -> gr.Blocks:
    """Build the app and serve it with the production queue and launch settings: `main()` blocks here; tests pass
    `block=False` and close the returned app."""
    private_temp_folder()  # before Gradio builds anything: it reads the folder then
    # The page in the browser's language (demos/translation.py), and so are the answers (demos/messages.py).
    app = messages.in_request_language(translation.translate(build_app(runtime, hub_status(runtime)), translation.I18N))
    release_thread_pool()  # the calling thread only waits from here on (shared/openmp.py)
    if runtime.settings.preload:
        runtime.preload(default_models(runtime))
    return serve(app, runtime.settings, block=block)


def serve(app: gr.Blocks, settings: Settings, *, block: bool = True) -> gr.Blocks:
    """Serve built Blocks with the production queue, launch settings and defences."""
    app.queue(**queue_kwargs())
    with mock.patch.object(gradio.networking, "url_ok", page_answers):
        app.launch(
            prevent_thread_lock=True,
            quiet=not block,
            app_kwargs=defences_kwargs(app, settings),
            **launch_kwargs(settings),
        )
    sessions.install(app)
    if block:
        app.block_thread()
    return app


def build_stand_ins(runtime: Runtime, tasks: Collection[str] | None = None) -> None:
    """Build the stand-ins of the tabs' default models (of `tasks` only, when given) now, once: replicas in other
    processes would otherwise race to build the same one at their first requests. A visitor's other pick is built
    by the replica that first needs it."""
    for task, choice, _loader in default_models(runtime):
        if choice.stand_in is not None and (tasks is None or task in tasks):
            runtime.source_for(choice.model_id, choice.stand_in)


@contextmanager
def models_on_ray(runtime: Runtime, config: dict | None = None) -> Iterator[None]:
    """The tabs' model work on Ray Serve for the block (shared/ray_serve.py): the applications of `config`, or of
    the --serve-config file, deployed on a private Ray or the cluster at --ray-address."""
    from shared.ray_serve import ray_backend, read_serve_config, served_tasks  # Ray is optional: only for --backend ray

    config = config or read_serve_config(runtime.settings.serve_config)
    if runtime.settings.stand_ins:
        build_stand_ins(runtime, served_tasks(config))
    with ray_backend(runtime, config):
        yield


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = parse_settings(argv)
    try:
        runtime = Runtime(settings)
    except ValueError as error:
        sys.exit(str(error))
    if settings.download:
        if settings.stand_ins:
            sys.exit("--download fetches the real models; drop --stand-ins.")
        failed = download_models(runtime)
        if failed:
            sys.exit("Some models could not be fetched:\n" + "\n".join(failed))
        logger.info("Every default model is in the Hugging Face cache; HF_HUB_OFFLINE=1 python app.py runs offline.")
        return
    if warning := share_warning(settings):
        logger.warning(warning)
    # SIGTERM as Ctrl-C: Gradio closes the server, the exit handlers remove the app's temp folders, and with
    # --backend ray the private Ray then stops with every process it started.
    stop_on_signals()
    if settings.backend == "ray":
        with models_on_ray(runtime):
            stop_on_signals()  # ray.init put its own SIGTERM handler in place (sys.exit, Gradio left open)
            launch(runtime)
    else:
        launch(runtime)
    exit_now()


def stop_on_signals() -> None:
    """SIGINT and SIGTERM stop the app, even when its parent ignored or blocked them: a background job of a
    non-interactive shell starts with SIGINT ignored, and Python then never turns it into KeyboardInterrupt (seen as
    a test's `kill -INT` that did nothing after the Ray tests had run in the same pytest process)."""
    stopping = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stopping)
    for signum in stopping:
        signal.signal(signum, stop_on_signal)


def stop_on_signal(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def exit_now() -> NoReturn:
    """Once the server is closed: run the exit handlers (they remove the app's temp folders) and leave without the
    interpreter's finalization, which waits on daemon threads that may still be inside torch or a Gradio worker
    (a stop that took over a minute was seen in CI)."""
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
