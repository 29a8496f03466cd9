"""Stop the game is for good (only a new game starts again): it asks for a ticked box saying so, else 422 and
nothing changed."""

from __future__ import annotations

CONSOLE = "/console/apps/games/demo/atrium"


def test_stopping_the_game_needs_the_tick(app, client, console, demo):
    games = app.extensions["light_app_stores"]["games"]
    console.login("events")
    game = games.current("demo", "atrium")  # the demo's game
    assert game is not None and game.status == "live"
    page = client.get(f"{CONSOLE}/?lang=en").get_data(as_text=True)
    assert 'id="confirm-stop"' in page
    assert "Stop it for good: shoppers can no longer play it; prizes already won can still be handed out." in page
    resp = client.post(f"{CONSOLE}/stop?lang=en", data={"csrf_token": console.csrf()})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="stop-error"' in html and "Tick the box beside Stop the game to confirm it" in html
    assert games.current("demo", "atrium").status == "live"  # nothing changed
    resp = client.post(f"{CONSOLE}/stop", data={"csrf_token": console.csrf(), "confirm": "yes"})
    assert resp.status_code == 303 and games.current("demo", "atrium").status == "stopped"
    assert client.post(f"{CONSOLE}/stop", data={"csrf_token": console.csrf(), "confirm": "yes"}).status_code == 404
