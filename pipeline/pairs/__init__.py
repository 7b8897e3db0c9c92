"""Image-text pair candidates and their fates, and the img2dataset adapter. No Beam."""
