from journeys_app.cli import app

app()
