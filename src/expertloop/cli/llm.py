"""``expertloop llm``: configure model providers (OpenAI-compatible endpoints) and try them."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from expertloop.cli.common import database, fail, refused, settings

__all__ = ["group", "register"]

group = typer.Typer(help="Model providers for judges and generation.", no_args_is_help=True)


def _row(provider: Any) -> dict[str, Any]:
    return {
        "name": provider.name, "base_url": provider.base_url, "model": provider.model,
        "params": provider.params, "timeout_seconds": provider.timeout_seconds,
        "max_retries": provider.max_retries, "concurrency": provider.concurrency,
        "api_key_env": provider.api_key_env, "key_source": provider.key_source,
    }


@group.command("add")
def llm_add(
    name: Annotated[str, typer.Argument(help="A short unique name, e.g. judge-small.")],
    base_url: Annotated[str, typer.Option(help="The endpoint, e.g. https://api.openai.com/v1.")],
    model: Annotated[str, typer.Option(help="The model name the endpoint knows.")],
    params: Annotated[
        str, typer.Option(help='Default parameters as JSON, e.g. \'{"temperature": 0}\'.')
    ] = "{}",
    timeout: Annotated[float, typer.Option(help="Seconds before a call times out.")] = 60.0,
    max_retries: Annotated[int, typer.Option(help="Retries after 429, 5xx, timeouts.")] = 3,
    concurrency: Annotated[int, typer.Option(help="Calls at once per process.")] = 4,
    api_key_env: Annotated[
        str | None, typer.Option(help="Read the API key from this environment variable.")
    ] = None,
    api_key_stdin: Annotated[
        bool, typer.Option("--api-key-stdin", help="Read the API key from standard input "
                           "and store it encrypted with EXPERTLOOP_SECRET_KEY.")
    ] = False,
) -> None:
    """Configure a model provider."""
    from expertloop.services import llm

    try:
        default_params = json.loads(params)
    except json.JSONDecodeError as exc:
        fail(f"--params is not JSON: {exc}")
    api_key = typer.get_text_stream("stdin").readline().strip() if api_key_stdin else None
    config = settings()
    with database(config) as db:
        llm.use_secret_key(db, config.secret_key)
        with refused():
            provider = llm.add_provider(
                db, actor=None, name=name, base_url=base_url, model=model,
                params=default_params, timeout_seconds=timeout, max_retries=max_retries,
                concurrency=concurrency, api_key=api_key or None, api_key_env=api_key_env,
            )
    typer.echo(json.dumps(_row(provider)))


@group.command("list")
def llm_list() -> None:
    """List the providers, one JSON object per line (keys are never shown)."""
    from expertloop.services import llm

    with database(settings()) as db:
        for provider in llm.list_providers(db, actor=None):
            typer.echo(json.dumps(_row(provider)))


@group.command("test")
def llm_test(name: Annotated[str, typer.Argument(help="The provider's name.")]) -> None:
    """Send the provider one tiny prompt; exit 1 if it fails."""
    from expertloop.services import llm

    config = settings()
    with database(config) as db:
        llm.use_secret_key(db, config.secret_key)
        with refused():
            result = llm.test_provider(db, actor=None, name=name)
    typer.echo(json.dumps({
        "provider": result.provider, "ok": result.ok, "text": result.text,
        "model": result.model, "latency_ms": result.latency_ms, "error": result.error,
    }))
    if not result.ok:
        raise typer.Exit(code=1)


@group.command("remove")
def llm_remove(name: Annotated[str, typer.Argument(help="The provider's name.")]) -> None:
    """Remove a provider (its recorded calls stay)."""
    from expertloop.services import llm

    with database(settings()) as db, refused():
        llm.delete_provider(db, actor=None, name=name)
    typer.echo(json.dumps({"removed": name}))


@group.command("triage")
def llm_triage(
    project: Annotated[int, typer.Argument(help="Project id.")],
    judge: Annotated[
        list[str] | None,
        typer.Option(help="A judge to weigh in the stopping rule (repeat for several)."),
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Turn triage off.")] = False,
    audit_share: Annotated[
        float | None,
        typer.Option(help="Also set adaptive redundancy's audit share (0 to 1): the share of "
                     "items that get one answer more than min-answers, where the judges "
                     "and experts overlap. The other redundancy settings stay."),
    ] = None,
) -> None:
    """Show triage as applied, or turn it on with --judge (adaptive redundancy needed) or
    off with --off, and set the audit share with --audit-share, in one change; exit 1 for a
    bad judge, share or project (nothing is changed then)."""
    from expertloop.services import llm

    if off and judge:
        fail("give --judge or --off, not both")
    changes: dict[str, Any] = {}
    if off or judge:
        changes["triage"] = None if off else {"judges": list(judge or [])}
    if audit_share is not None:
        changes["audit_share"] = audit_share
    with database(settings()) as db, refused():
        if changes:
            llm.update_llm_settings(db, actor=None, project_id=project, **changes)
        shown = llm.get_triage(db, actor=None, project_id=project)
    typer.echo(json.dumps(shown, default=str))


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="llm")
