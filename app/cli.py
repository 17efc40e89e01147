"""Commands for the `flask` CLI, registered by the factory."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Attach every command group to app."""
    from app.auth.cli import users_cli
    from app.dashboard.cli import dashboard_cli
    from app.data.cli import codebook_command, export_command, import_command
    from app.doctor import doctor_command
    from app.documents.cli import demo, documents_cli
    from app.freezes.cli import freeze_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(export_command)
    app.cli.add_command(import_command)
    app.cli.add_command(codebook_command)
    app.cli.add_command(doctor_command)
    app.cli.add_command(documents_cli)
    app.cli.add_command(demo)
    app.cli.add_command(dashboard_cli)
    app.cli.add_command(freeze_cli)
