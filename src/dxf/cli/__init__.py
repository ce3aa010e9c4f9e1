"""The ``dxf`` command, on top of the library (which never imports this package).

* :mod:`~dxf.cli.table`: every command's facts (help, options, argument counts and roles, what it
  names, progress bars), one record per command;
* :mod:`~dxf.cli.grammar`: the parsers, help and argument checks built from that table;
* :mod:`~dxf.cli.environment`: the ``DXF_*`` settings, validated once;
* :mod:`~dxf.cli.commands`: running each command against a client;
* :mod:`~dxf.cli.errors`: exit statuses, failures as one line without credentials, signals;
* :mod:`~dxf.cli.progress`: progress bars (the only user of ``tqdm``, imported when bars are drawn).

The entry points (``doit``, ``run_command``, ``main``) stay in :mod:`dxf.main`, where python-dxf
had them.
"""
