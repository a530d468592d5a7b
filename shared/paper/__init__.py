"""Paper mode: the original's prompt texts, read at run time from the verified upstream files."""
