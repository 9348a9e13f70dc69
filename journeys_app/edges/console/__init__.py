"""The review console: web pages for reviewers (FastAPI + Jinja2, served by uvicorn)."""
