"""One request, start to answer: read, claim, deliver or queue each person's events, report."""
