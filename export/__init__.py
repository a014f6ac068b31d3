"""rainloop.export"""
