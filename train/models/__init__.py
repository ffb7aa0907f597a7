"""PP-OCRv3 networks in PyTorch (det student, rec SVTR_LCNet, direction classifier) and official-weight import."""
