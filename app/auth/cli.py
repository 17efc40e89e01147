"""`flask users ...`: accounts from the command line."""

from __future__ import annotations

import os

import click
from flask.cli import with_appcontext

from app.extensions import db
from app.models.user import ROLES
from app.services import accounts
from app.services.errors import DomainError


@click.group("users")
def users_cli() -> None:
    """Manage accounts: create, list, set-password, deactivate, activate, setup-link."""


def _fail(exc: DomainError) -> None:
    db.session.rollback()
    raise click.ClickException(exc.message)


def _user(username: str):
    user = accounts.find_user(username)
    if user is None:
        raise click.ClickException(f"No user named {username!r}.")
    return user


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted (with confirmation) when not given.",
)
@with_appcontext
def create(username: str, role: str, password: str) -> None:
    """Create a user."""
    try:
        user = accounts.create_user(username, password, role)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"Created {user.role} {user.username}.")


@users_cli.command("list")
@with_appcontext
def list_() -> None:
    """List every user with role and status."""
    users = accounts.list_users()
    if not users:
        click.echo("No users yet. Create one with: flask users create NAME --role admin")
    for user in users:
        status = "active" if user.active else "deactivated"
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if user.last_login_at else "never"
        click.echo(f"{user.username:<24} {user.role:<9} {status:<12} last login {last}")


@users_cli.command("set-password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def set_password(username: str, password: str) -> None:
    """Set a user's password (their sessions end)."""
    try:
        accounts.set_password(_user(username), password)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"Password of {username} changed.")


@users_cli.command("deactivate")
@click.argument("username")
@with_appcontext
def deactivate(username: str) -> None:
    """Deactivate a user; their live sessions end on their next request."""
    try:
        accounts.set_active(_user(username), False)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"{username} deactivated.")


@users_cli.command("activate")
@click.argument("username")
@with_appcontext
def activate(username: str) -> None:
    """Reactivate a deactivated user."""
    accounts.set_active(_user(username), True)
    click.echo(f"{username} reactivated.")


@users_cli.command("setup-link")
@click.option("--base-url", default=None, help="Where the portal is served (default HOST:PORT).")
@with_appcontext
def setup_link(base_url: str | None) -> None:
    """Print a one-time link that creates the first admin (only while there is no user)."""
    token = accounts.issue_setup_token()
    if token is None:
        click.echo("Users exist already; log in, or use `flask users create`.", err=True)
        return
    if base_url is None:
        base_url = f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
    hours = int(accounts.SETUP_TOKEN_LIFETIME.total_seconds() // 3600)
    click.echo(
        "No account exists yet. Open this one-time link to create the first admin "
        f"(valid {hours} hours, single use):"
    )
    click.echo(f"    {base_url.rstrip('/')}/setup/{token}")
