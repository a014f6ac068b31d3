"""rainloop.runtime"""
