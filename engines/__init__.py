"""rainloop.engines"""
