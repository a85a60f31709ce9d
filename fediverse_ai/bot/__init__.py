"""The AI actor's behaviour: turning a mention into exactly one reply."""
