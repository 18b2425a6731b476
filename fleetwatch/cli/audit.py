"""`fleetwatch audit verify | checkpoint | prove | export`: tamper evidence (docs/audit.md
sections 19.4, 19.5).

`verify` compares the event store with the ledger as they are (it does not move the ledger
first) and prints one line per finding: exit code 0 when the history is intact, 1 when it is
not. `checkpoint` brings the ledger up to the feed's head and signs a checkpoint of every
tenant's log. `prove` prints an inclusion or a consistency proof as JSON. `export` writes a
tenant's log up to its last checkpoint, with the stored events and their proofs, for
`scripts/verify_audit_export.py`. `keys` prints the checkpoints' keys as configured (what
auditors pin), or with `--generate` a new key to configure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from audit.checkpoints import SEED_BYTES, SigningKey, key_id
from audit.keys import SYSTEM, public_text
from fleetwatch.bootstrap import build_system
from fleetwatch.cli.common import console, fail
from fleetwatch.ledger import export_tenant, key_ring, prove, verify_store
from fleetwatch.settings import Settings

audit_app = typer.Typer(help="Tamper evidence of the event history.", no_args_is_help=True)


@audit_app.command("verify")
def verify() -> None:
    """Recompute every ledgered event's hash from the event store; name each edited, deleted,
    inserted or reordered event, and a ledger that no longer matches its signed checkpoints."""
    settings = Settings()
    system = build_system(settings)
    try:
        assert system.ledger is not None
        report = verify_store(system.app, settings, system.ledger)
    finally:
        system.close()
    for finding in report.findings:
        print(finding)  # one line each, however wide the terminal
    summary = f"{report.checked} ledgered events checked, {len(report.findings)} findings"
    if report.pending:
        summary += f", {report.pending} events after the ledger's position not covered yet"
    print(summary)
    if report.findings:
        raise typer.Exit(code=1)


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Bring the ledger up to the feed's head and sign a checkpoint of every tenant's log."""
    system = build_system(Settings())
    try:
        assert system.ledger is not None
        system.ledger.catch_up()
        signed = system.ledger.ledger.checkpoint_now()
    finally:
        system.close()
    for c in signed:
        print(f"tenant {c.tenant_id!r}: size {c.tree_size} root {c.root.hex()} key {c.key_id}")


@audit_app.command("export")
def export(
    tenant: Annotated[str, typer.Argument(help="The tenant whose log to export.")],
    out: Annotated[Path, typer.Option(help="The file to write (JSON lines).")],
) -> None:
    """Write the tenant's log up to its last signed checkpoint: the checkpoint and public key,
    then each event's canonical envelope, stored bytes and inclusion proof."""
    settings = Settings()
    system = build_system(settings)
    try:
        assert system.ledger is not None
        lines = export_tenant(system.app, settings, system.ledger, tenant)
    except ValueError as e:
        raise fail(str(e)) from None
    finally:
        system.close()
    out.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    console.print(f"{len(lines) - 1} events written to {out}", markup=False, highlight=False)


@audit_app.command("prove")
def prove_command(
    tenant: Annotated[str, typer.Argument(help="The tenant whose log holds the proof.")],
    position: Annotated[
        int | None, typer.Option(help="Prove the event at this feed position is in the log.")
    ] = None,
    old: Annotated[int | None, typer.Option("--from", help="A checkpoint's tree size.")] = None,
    new: Annotated[int | None, typer.Option("--to", help="A later checkpoint's size.")] = None,
) -> None:
    """Print (JSON) the inclusion proof of an event against the tenant's last signed
    checkpoint, or the consistency proof between two of its signed checkpoints."""
    if (old is None) != (new is None):
        raise fail("give both --from and --to")
    system = build_system(Settings())
    try:
        assert system.ledger is not None
        sizes = None if old is None or new is None else (old, new)
        proof = prove(system.ledger, tenant, position=position, sizes=sizes)
    except ValueError as e:
        raise fail(str(e)) from None
    finally:
        system.close()
    print(json.dumps(proof, indent=2))


@audit_app.command("keys")
def keys(
    generate: Annotated[
        bool, typer.Option("--generate", help="Print a new key's seed, id and public key.")
    ] = False,
) -> None:
    """Print the checkpoints' keys as configured, one per line: whose checkpoints each signs
    (or that it is retired and still trusted), its key id and its public key (base64), which
    is what auditors pin. With --generate: a new random key, its seed (the secret to put in
    FLEETWATCH_AUDIT_SIGNING_KEY or FLEETWATCH_AUDIT_TENANT_SIGNING_KEYS), id and public key."""
    if generate:
        seed = os.urandom(SEED_BYTES)
        new = SigningKey(seed)
        print(f"seed {public_text(seed)}\nkey id {new.key_id}")
        print(f"public key {public_text(new.public_key)}")
        return
    ring = key_ring(Settings())
    lines = [("system", "signs", ring.system.public_key)]
    lines += [(f"tenant {t!r}", "signs", k.public_key) for t, k in sorted(ring.tenants.items())]
    for owner, retired in sorted(ring.retired.items()):
        whose = "system" if owner == SYSTEM else f"tenant {owner!r}"
        lines += [(whose, "retired", key) for key in retired]
    for whose, role, public_key in lines:  # print: one line each, however wide the terminal
        print(f"{whose} {role} {key_id(public_key)} {public_text(public_key)}")
