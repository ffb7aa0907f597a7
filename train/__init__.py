"""Training side of ppocr_edge (PyTorch): PP-OCRv3 networks, weight import, data, losses and training loops."""
