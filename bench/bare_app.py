"""The baseline for bench/portal.py: a bare Flask app whose probe route returns a fixed 302."""

from flask import Flask, redirect

app = Flask(__name__)


@app.get("/generate_204")
def probe():
    return redirect("/v/demo/", code=302)
