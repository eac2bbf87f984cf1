"""Tenders: projects and lots (标段/包), publication, documents, clarifications and questions."""
