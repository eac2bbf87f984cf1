"""Everything persistent.

The database (tables, repositories, unit of work, migrations) and large objects.
"""
