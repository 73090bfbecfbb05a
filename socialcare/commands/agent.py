"""The agent's commands on one mention: show, claim, assign, release, reply, close, reopen,
snooze, tag, note; the outbox, templates, the audit log and customers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Optional

import typer

from ..safety import clean_text, one_line
from .common import (
    JSON_OPTION,
    JSONL_OPTION,
    MAX_COUNT,
    CommandSet,
    complete_agent,
    complete_mention_id,
    complete_template,
    console,
    contribution_json,
    err_console,
    event_json,
    event_sentence,
    exclusive,
    fit,
    mention_json,
    outbox_json,
    print_json,
    print_jsonl,
    read_future,
    relative_times,
    sc_of,
    time_text,
)
from .plain import CellKind, write_line, write_prose, write_rule

if TYPE_CHECKING:
    from ..app import Row

commands = CommandSet()

# -- agent workflow --------------------------------------------------------------
ID_ARG = typer.Argument(
    ...,
    metavar="ID",
    help="Mention id, e.g. twitter:1234 or demo:1001.",
    autocompletion=complete_mention_id,
)


def _when(row: Row, key: str, tz: Optional[str]) -> str:
    return time_text(row.get(key), tz)


def _view_json(suggestions: list[Any], view: Any) -> dict[str, Any]:
    """``show --json``: the mention (export fields) with everything ``show`` prints."""
    return {
        **mention_json(view.mention),
        "private": view.private,
        "score": view.score,
        "follow_up": view.mention.get("follow_up"),
        "next_response_left": view.mention.get("next_response_left"),
        "contributions": [contribution_json(c) for c in view.contributions],
        "suggestions": [
            {"article_id": s.article_id, "title": s.title, "url": s.url, "score": s.score}
            for s in suggestions
        ],
        "thread": [mention_json(t) for t in view.thread],
        "thread_notes": view.thread_notes,
        "identities": [dict(i) for i in view.identities],
        "history": [mention_json(h) for h in view.history],
        "replies": [outbox_json(r) for r in view.replies],
        "notes": [event_json(n) for n in view.notes],
    }


def _item_label(item: Row) -> str:
    """What an outbox item is, in ``show``'s history: a reply, a private message, a pair's half."""
    from ..models import item_options

    opts = item_options(item)
    if item.get("kind") == "dm":
        return "private message"
    if item.get("kind") == "reply" and opts.get("dm"):
        return "private reply"
    if opts.get("after_dm"):
        return f"public reply (after DM #{opts['after_dm']})"
    return str(item.get("kind") or "reply")


@commands.command()
def show(
    ctx: typer.Context,
    mention_id: str = ID_ARG,
    offline: bool = typer.Option(False, "--offline", help="Do not fetch missing thread parents."),
    json_: bool = typer.Option(False, "--json", help="One JSON object for scripts."),
) -> None:
    """Show a mention in full: link, score explanation, thread and the customer's history.

    Example: socialcare show demo:1001
    """
    sc = sc_of(ctx)
    view = sc.show(mention_id, online=not offline)
    m, tz = view.mention, sc.config.timezone
    if json_:
        return print_json(_view_json(sc.suggestions(m), view))
    private = "  PRIVATE (DM)" if view.private else ""
    _rule(f"{m['id']}  score {view.score:.2f}  {m['status']}{private}", "text")
    if view.private:
        _say(
            "private conversation: left out of reports and exports (export --include-dm)", "magenta"
        )
    _say(
        f"@{clean_text(m['author_handle'])} ({clean_text(m['author_name'])}, "
        f"{m['author_followers'] or 0} followers) on {m['source']}, "
        f"{_when(m, 'created_at', tz)}"
    )
    _say(clean_text(m["url"]), "blue")
    text = clean_text(m["text"])
    if not write_line(text + " ", "text"):  # print(Text, "") joins them with a space
        from rich.text import Text

        console.print(Text(text), "")
    if m.get("rating"):
        _say(_review_line(m))
    tags = json.loads(m.get("tags") or "[]")
    _say(
        f"intent {m['intent'] or '-'}  assignee {m['assignee'] or '-'}  "
        f"tags {', '.join(tags) or '-'}"
    )
    if m.get("follow_up") and m["status"] == "open":
        from .queue import _next_response_cell

        _say(*_next_response_cell(m))  # the customer wrote again after our reply
    why = ", ".join(f"{c.name} {c.contribution:+.2f}" for c in view.contributions if c.contribution)
    _say(f"why: {why}", "dim")
    from .kb import suggestion_lines, suggestions_text

    _rule("knowledge base", "str")
    suggestions = sc.suggestions(m)
    if not write_prose(suggestion_lines(suggestions), "text"):
        console.print(suggestions_text(suggestions))
    if view.thread or view.thread_notes:
        _rule("private conversation" if view.private else "thread", "str")
        for t in view.thread:
            marker = "▶ " if t["id"] == m["id"] else "  "
            when = f"{_when(t, 'created_at', tz)} " if view.private else ""
            _say(f"{marker}{when}@{one_line(t['author_handle'], 20)}: {one_line(t['text'], 160)}")
        for note in view.thread_notes:
            _say(one_line(note), "yellow")
    _rule("customer", "str")
    if not m["author_key"]:
        _say(
            "author unknown: the platform sent no author id, so this mention is linked to "
            "no customer and shows no history (strangers are never merged into one)",
            "yellow",
        )
    else:
        idents = ", ".join(f"{i['id']} (@{one_line(i['handle'], 30)})" for i in view.identities)
        _say(f"identities: {idents}")
    for h in view.history[:20]:
        _say(
            f"  {h['id']} {_when(h, 'created_at', tz)} [{h['status']}]"
            f"{' DM' if h.get('kind') == 'dm' else ''} {one_line(h['text'], 100)}"
        )
    for r in view.replies[:20]:
        _say(
            f"  {_item_label(r)} #{r['id']} {r['status']} by {r['agent']}: {one_line(r['text'], 100)}"
        )
    for n in view.notes[:20]:
        note_text = json.loads(n["detail"]).get("text", "")
        _say(f"  note by {n['agent']} {_when(n, 'at', tz)}: {one_line(note_text, 120)}")
    if not (view.history or view.replies or view.notes):
        _say("  no earlier contact", "dim")


def _say(line: str, style: str = "") -> None:
    """One of ``show``'s lines: written as it is on a pipe (rich's bytes there), else a
    styled ``Text``."""
    if not write_line(line, "text"):
        from rich.text import Text

        console.print(Text(line, style=style))


def _rule(title: str, kind: CellKind) -> None:
    """One of ``show``'s section lines (``kind``: the title was a ``Text`` or a ``str``)."""
    if not write_rule(title, kind):
        from rich.text import Text

        console.rule(Text(title) if kind == "text" else title)


@commands.command()
def claim(
    ctx: typer.Context,
    mention_id: str = ID_ARG,
    force: bool = typer.Option(False, "--force", help="Take it over from another agent."),
) -> None:
    """Claim a mention so other agents see you are on it.

    Example: socialcare claim demo:1001
    """
    sc = sc_of(ctx)
    previous = sc.claim(mention_id, force=force)
    taken = f" (taken over from {previous})" if previous and previous != sc.agent else ""
    console.print(f"{mention_id} claimed by {sc.agent}{taken}")


@commands.command()
def assign(
    ctx: typer.Context,
    mention_id: str = ID_ARG,
    to: str = typer.Option(..., "--to", help="Agent name.", autocompletion=complete_agent),
) -> None:
    """Assign a mention to an agent.

    Example: socialcare assign demo:1001 --to bob
    """
    from rich.text import Text

    sc_of(ctx).assign(mention_id, to)
    console.print(Text(f"{mention_id} assigned to {to}"))


@commands.command()
def release(
    ctx: typer.Context,
    mention_id: str = ID_ARG,
    force: bool = typer.Option(False, "--force", help="Release another agent's claim."),
) -> None:
    """Release your claim on a mention.

    Example: socialcare release demo:1001
    """
    sc_of(ctx).release(mention_id, force=force)
    console.print(f"{mention_id} released")


@commands.command()
def reply(
    ctx: typer.Context,
    mention_id: str = ID_ARG,
    text: Optional[str] = typer.Argument(None, help="Reply text; omit to write it in $EDITOR."),
    template: Optional[str] = typer.Option(
        None, "--template", "-t", help="Start from this template.", autocompletion=complete_template
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Render and check; send nothing."),
    force: bool = typer.Option(False, "--force", help="Reply despite a claim or an earlier reply."),
    no_edit: bool = typer.Option(
        False, "--no-edit", help="With --template and no TEXT: send the template as is."
    ),
    kb: Optional[int] = typer.Option(
        None,
        "--kb",
        min=1,
        max=MAX_COUNT,
        metavar="N",
        help="Include the Nth suggested article ({kb_title} {kb_url}; see `show`).",
    ),  # fmt: skip
    replace: bool = typer.Option(
        False, "--replace", help="Reviews: replace the existing response without asking."
    ),
) -> None:
    """Reply through the platform, via the outbox (never posted twice).

    With no TEXT, $EDITOR opens with the template and the mention quoted
    (as `git commit` does); an empty message aborts. App-store reviews have
    one response each: replying again replaces it, so you are asked first.

    Example: socialcare reply demo:1001 --template apology
    """
    from rich.text import Text

    from ..errors import UsageError
    from .editor import edit_reply

    sc = sc_of(ctx)
    replace = _confirm_replace(sc.reply_replaces(mention_id), replace or force, dry_run)
    if text is None and not (no_edit and template):
        draft = sc.draft_reply(mention_id, template=template, kb=kb)
        edited = edit_reply(sc.mention(mention_id), draft)
        if not edited.text:
            raise UsageError("empty reply: aborted, nothing sent")
        if edited.unchanged:
            console.print(Text(edited.text))
            if not typer.confirm("The reply is the unedited draft above. Send it?", default=False):
                raise UsageError("not sent: the draft was left unedited")
        text = edited.text
        template = None
    outcome = sc.reply(
        mention_id, text=text, template=template, dry_run=dry_run, force=force, kb=kb,
        replace=replace,
    )  # fmt: skip
    limit = f"/{outcome.limit}" if outcome.limit else ""
    if dry_run:
        console.print(Text(f"Would send ({outcome.length}{limit} chars):\n{outcome.text}"))
        return
    item = outcome.item or {}
    if item.get("status") == "sent":
        console.print(
            Text(
                f"Sent reply #{item['id']} ({outcome.length}{limit} chars): {item.get('url') or ''}"
            )
        )
        return
    from ..errors import SendFailed

    if item.get("status") == "unknown":
        raise SendFailed(
            f"reply #{item.get('id')} may or may not have been posted: {item.get('error')} "
            f"(`socialcare outbox retry {item.get('id')}` checks the platform first and sends "
            "only if it is not there)"
        )
    raise SendFailed(
        f"reply #{item.get('id')} failed: {item.get('error')} "
        f"(fix it, then `socialcare outbox retry {item.get('id')}`)"
    )


def _review_line(m: Row) -> str:
    """A review's stars and platform extras: ``★★☆☆☆ 2/5  territory USA  app_version 4.2``."""
    stars = int(m["rating"])
    meta = json.loads(m.get("meta") or "{}")
    extras = [
        f"{clean_text(str(k))} {one_line(str(v), 40)}"
        for k, v in meta.items()
        if k != "title" and v not in (None, "", [], {})
    ]
    return "  ".join([f"{'★' * stars}{'☆' * (5 - stars)} {stars}/5", *extras])


def _confirm_replace(warning: str | None, replace: bool, dry_run: bool) -> bool:
    """Say what a reply replaces (one-response platforms) and ask, unless told already."""
    from rich.text import Text

    if warning is None:
        return replace
    err_console.print(Text(f"Warning: {warning}"))
    if replace or dry_run:
        return True
    if not typer.confirm("Replace it?", default=False, err=True):
        from ..errors import UsageError

        raise UsageError("the response was kept: nothing sent (--replace replaces it)")
    return True


outbox_app = typer.Typer()
commands.group(outbox_app, name="outbox")


@outbox_app.callback(invoke_without_command=True)
def outbox_list(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", help="Include sent, cancelled and skipped items."),
    json_: bool = JSON_OPTION,
) -> None:
    """List outbox items that are pending, sending (maybe stuck), unknown or failed.

    unknown: the platform may have published it (its answer was lost); retry
    checks the platform first.

    Example: socialcare outbox
    """
    from rich.text import Text

    if ctx.invoked_subcommand:
        return
    statuses = (
        ("pending", "sending", "unknown", "sent", "failed", "cancelled", "skipped")
        if all_
        else ("pending", "sending", "unknown", "failed")
    )
    sc = sc_of(ctx)
    rows = sc.outbox(statuses)
    if json_:
        return print_json([outbox_json(r) for r in rows])
    if not rows:
        console.print("Outbox is clear.")
        return
    relative, tz = relative_times(), sc.config.timezone
    from rich.table import Table  # here: `show` and the rest need no table

    table = Table("#", "kind", "status", "mention", "agent", "updated", "text / error")
    for r in rows:
        detail = r["error"] if r["status"] in ("failed", "unknown") else r["text"]
        table.add_row(
            str(r["id"]),
            r["kind"],
            r["status"],
            Text(r["mention_id"] or "-"),
            Text(r["agent"] or "-"),
            time_text(r["updated_at"], tz, relative=relative),
            fit(detail, 80),
        )
    console.print(table)


@outbox_app.command("retry")
def outbox_retry(
    ctx: typer.Context,
    item_id: int = typer.Argument(..., metavar="ID", help="Outbox item number."),
    force: bool = typer.Option(
        False, "--force", help="Send an unknown item again without looking on the platform."
    ),
) -> None:
    """Send a failed item again; an unknown or stuck one only if it is not on the platform.

    An unknown (or abandoned 'sending') item is looked for on the platform first
    and marked sent if it is there. Where the platform cannot be checked, look
    yourself, then --force (or `outbox resolve ID --sent`). A 'sending' item whose
    sender may still be running is refused. Every attempt carries the item's one
    idempotency key.

    Example: socialcare outbox retry 3
    """
    from rich.text import Text

    item = sc_of(ctx).retry(item_id, force=force)
    from ..errors import SendFailed

    if item["status"] == "unknown":
        raise SendFailed(
            f"outbox item {item_id} may or may not have been posted again: {item['error']} "
            f"(run `socialcare outbox retry {item_id}` later: it checks the platform first)"
        )
    if item["status"] != "sent":
        raise SendFailed(f"outbox item {item_id} failed again: {item['error']}")
    if item.get("found_on_platform"):
        console.print(
            Text(
                f"Outbox item {item_id} was already on the platform: marked sent, not posted "
                f"again: {item.get('url') or ''}"
            )  # fmt: skip
        )
        return
    console.print(Text(f"Sent outbox item {item_id}: {item.get('url') or ''}"))


@outbox_app.command("resolve")
def outbox_resolve(
    ctx: typer.Context,
    item_id: int = typer.Argument(..., metavar="ID", help="Outbox item number."),
    sent: bool = typer.Option(
        False, "--sent", help="It is on the platform: mark it sent (nothing is posted)."
    ),
    not_sent: bool = typer.Option(
        False, "--not-sent", help="It is not on the platform: mark it failed (retry or cancel)."
    ),
    url: str = typer.Option("", "--url", help="The post's URL on the platform (with --sent)."),
) -> None:
    """Record what you found on the platform for an unknown item. Audited.

    Example: socialcare outbox resolve 3 --sent --url https://mastodon.social/@acme/1
    """
    from rich.text import Text

    from ..errors import UsageError

    if sent == not_sent:
        raise UsageError("say what you found: --sent or --not-sent")
    item = sc_of(ctx).resolve(item_id, sent=sent, url=url)
    console.print(Text(f"Outbox item {item_id} is {item['status']} now."))


@outbox_app.command("cancel")
def outbox_cancel(
    ctx: typer.Context,
    item_id: int = typer.Argument(..., metavar="ID", help="Outbox item number."),
) -> None:
    """Cancel a pending or failed item (reply, follow-up, post): it is never sent. Audited.

    Example: socialcare outbox cancel 3
    """
    from rich.text import Text

    item = sc_of(ctx).cancel(item_id)
    console.print(Text(f"Cancelled outbox item {item_id} ({item['kind']})."))


@commands.command()
def templates(ctx: typer.Context, json_: bool = JSON_OPTION) -> None:
    """List reply templates (plain files in the templates dir) and their placeholders.

    Example: socialcare templates
    """
    from rich.text import Text

    from ..templates import PLACEHOLDERS, templates_dir

    sc = sc_of(ctx)
    found = sc.templates()
    if json_:
        return print_json(
            [
                {"name": name, "path": str(path), "text": path.read_text(encoding="utf-8")}
                for name, path in found.items()
            ]
        )
    console.print(f"Templates in {templates_dir(sc.config)}:")
    for name, path in found.items():
        console.print(Text(f"  {name}: {one_line(path.read_text(encoding='utf-8'), 90)}"))
    if not found:
        console.print("  none yet (`socialcare init` writes a starter set)")
    console.print("Placeholders: " + ", ".join("{" + k + "}" for k in PLACEHOLDERS))


@commands.command()
def close(ctx: typer.Context, mention_id: str = ID_ARG) -> None:
    """Close a mention: handled, out of the queue.

    Example: socialcare close demo:1001
    """
    ids = sc_of(ctx).close(mention_id)
    scheduled = f"; follow-up(s) {', '.join(map(str, ids))} scheduled" if ids else ""
    console.print(f"{mention_id} closed{scheduled}")


@commands.command()
def reopen(ctx: typer.Context, mention_id: str = ID_ARG) -> None:
    """Reopen a closed or replied mention.

    Example: socialcare reopen demo:1001
    """
    sc_of(ctx).reopen(mention_id)
    console.print(f"{mention_id} reopened")


@commands.command()
def snooze(
    ctx: typer.Context,
    mention_id: str = ID_ARG,
    until: str = typer.Option(
        ..., "--until", help="A duration (4h, 2d) or an ISO time (no offset = your zone)."
    ),
) -> None:
    """Hide a mention from the queue until a time; it comes back by itself.

    Example: socialcare snooze demo:1001 --until 4h
    """
    from rich.text import Text

    sc = sc_of(ctx)
    when = read_future(sc, until, "--until")
    sc.snooze(mention_id, when)
    console.print(Text(f"{mention_id} snoozed until {time_text(when, sc.config.timezone)}"))


@commands.command()
def tag(
    ctx: typer.Context,
    mention_id: str = ID_ARG,
    tags: list[str] = typer.Argument(..., metavar="TAG...", help="Tags to add."),
) -> None:
    """Tag a mention.

    Example: socialcare tag demo:1001 billing refund
    """
    from rich.text import Text

    merged = sc_of(ctx).tag(mention_id, tags)
    console.print(Text(f"{mention_id} tags: {', '.join(merged)}"))


@commands.command()
def note(
    ctx: typer.Context,
    mention_id: str = ID_ARG,
    text: str = typer.Argument(..., help="The note (internal, never posted)."),
) -> None:
    """Add an internal note to a mention (never posted).

    Example: socialcare note demo:1001 "Refund approved by billing, ref 5521"
    """
    sc_of(ctx).note(mention_id, text)
    console.print(f"Note added to {mention_id}")


@commands.command("log")
def log_(
    ctx: typer.Context,
    mention_id: Optional[str] = typer.Option(None, "--mention", help="Only this mention."),
    agent: Optional[str] = typer.Option(
        None, "--agent", help="Only this agent.", autocompletion=complete_agent
    ),
    action: Optional[str] = typer.Option(
        None, "--action", help="Only this action (claim, note, sent, ...)."
    ),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=MAX_COUNT),
    json_: bool = JSON_OPTION,
    jsonl: bool = JSONL_OPTION,
) -> None:
    """Show the audit log: who did what, when.

    The detail column says what happened in words ("note: checked with
    billing", "to bob"); --json and --jsonl keep the detail as its JSON object.

    Example: socialcare log --agent alice --limit 20
    """
    from rich.text import Text

    exclusive(json=json_, jsonl=jsonl)
    sc = sc_of(ctx)
    rows = sc.log(mention_id=mention_id, agent=agent, action=action, limit=limit)
    if json_ or jsonl:
        items = (event_json(r) for r in rows)
        return print_jsonl(items) if jsonl else print_json(list(items))
    if not rows:
        console.print("The log is empty: nothing has been done yet.")
        return
    relative, tz = relative_times(), sc.config.timezone
    from rich.table import Table

    table = Table("at", "agent", "action", "mention", "detail")
    for r in rows:
        table.add_row(
            time_text(r["at"], tz, relative=relative),
            Text(r["agent"] or "-"),
            Text(r["action"]),
            Text(r["mention_id"] or "-"),
            fit(event_sentence(r["action"], r["detail"], tz), 80),
        )
    console.print(table)


customer_app = typer.Typer(help="One customer across platforms: link identities, see history.")
commands.group(customer_app, name="customer")


@customer_app.command("link")
def customer_link(
    ctx: typer.Context,
    first: str = typer.Argument(..., metavar="ID1", help="Author key (twitter:123) or mention id."),
    second: str = typer.Argument(..., metavar="ID2", help="Author key or mention id."),
) -> None:
    """Link two identities as the same customer.

    Example: socialcare customer link demo:1001 reddit:t1_abc
    """
    customer_id = sc_of(ctx).link(first, second)
    console.print(f"Linked as customer {customer_id}")


@customer_app.command("unlink")
def customer_unlink(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="ID", help="Author key or mention id."),
) -> None:
    """Detach an identity from its customer.

    Example: socialcare customer unlink reddit:t2_xyz
    """
    from rich.text import Text

    key = sc_of(ctx).unlink(ref)
    console.print(Text(f"Unlinked {key}"))


@customer_app.command("show")
def customer_show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="ID", help="Author key or mention id."),
    json_: bool = JSON_OPTION,
) -> None:
    """Show a customer's identities and every mention from them.

    With --json: an array of the customer's mentions, newest first (author_key and
    author_handle say which identity wrote each).

    Example: socialcare customer show demo:1001
    """
    from rich.text import Text

    sc = sc_of(ctx)
    identities, mentions = sc.customer(ref)
    if json_:
        return print_json([mention_json(m) for m in mentions])
    for i in identities:
        console.print(Text(f"{i['id']}  @{one_line(i['handle'], 40)}  {one_line(i['name'], 40)}"))
    relative, tz = relative_times(), sc.config.timezone
    from rich.table import Table

    table = Table("id", "created", "status", "intent", "text")
    for m in mentions:
        table.add_row(
            Text(m["id"]),
            time_text(m["created_at"], tz, relative=relative),
            m["status"],
            m["intent"] or "-",
            fit(m["text"], 90),
        )
    console.print(table)


agent_app = typer.Typer(help="Agents' availability and load: away, back, list.")
commands.group(agent_app, name="agent")

AGENT_ARG = typer.Argument(
    None, metavar="[NAME]", help="Agent name (default: you).", autocompletion=complete_agent
)


@agent_app.command("away")
def agent_away(ctx: typer.Context, name: Optional[str] = AGENT_ARG) -> None:
    """Mark an agent away: routing assigns them nothing until they are back.

    Example: socialcare agent away bob
    """
    from rich.text import Text

    who = sc_of(ctx).agent_away(name, away=True)
    console.print(Text(f"{who} is away: routing skips them"))


@agent_app.command("back")
def agent_back(ctx: typer.Context, name: Optional[str] = AGENT_ARG) -> None:
    """Mark an agent available again.

    Example: socialcare agent back
    """
    from rich.text import Text

    who = sc_of(ctx).agent_away(name, away=False)
    console.print(Text(f"{who} is back: routing assigns to them again"))


@agent_app.command("list")
def agent_list(ctx: typer.Context, json_: bool = JSON_OPTION) -> None:
    """List agents with their teams, availability and open assigned items (load).

    Example: socialcare agent list
    """
    from rich.text import Text

    agents = sc_of(ctx).agent_list()
    if json_:
        return print_json([a.__dict__ for a in agents])
    if not agents:
        console.print("No agents yet: add [routing.teams] to the config.")
        return
    from rich.table import Table

    table = Table("agent", "teams", "status", "load", "cap")
    for a in agents:
        table.add_row(
            Text(a.name),
            Text(", ".join(a.teams) or "-"),
            Text("away", style="yellow") if a.away else Text("available", style="green"),
            str(a.load),
            "-" if a.cap is None else str(a.cap),
        )
    console.print(table)
