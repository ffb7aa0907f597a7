"""Model conversion tools: official PaddleOCR inference models -> ppocr_edge bundles of OpenVINO IR."""
