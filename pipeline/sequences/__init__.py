"""Documents -> M3W-style sequences: the tokenizer that counts, and the cutting. No Beam."""
