"""The console's read model: the board, the clocks by child and each case, built from the agents' stored records."""
