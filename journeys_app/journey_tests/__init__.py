"""`journeys test`: test cases for journeys, run on Temporal's time-skipping server."""
