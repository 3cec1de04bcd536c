"""Backfill from an archive: files or S3 objects read line by line into the live pipeline, paced, checkpointed."""
