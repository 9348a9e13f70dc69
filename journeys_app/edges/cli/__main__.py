from journeys_app.edges.cli import app

app()
