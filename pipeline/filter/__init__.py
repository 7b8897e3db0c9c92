"""Keep-or-drop rules with a reason: document text, captions, CLIP score. Pure; no Beam."""
