"""rainloop.training"""
