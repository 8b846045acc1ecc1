"""The consumer loop: poll a batch, hand it to a stage, dead-letter what the stage rejects, commit."""
