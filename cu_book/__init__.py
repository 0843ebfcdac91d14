"""The book's side: results → the tables, figures and readings of the pages.

`cu_book` imports `cu_core`; `cu_core` never imports `cu_book`. Book pages call one function per table or figure
from here and glue what it returns. (The older readers, `cu_core.report` and `cu_core.report_studies`, move here
as issue 18's refactoring proceeds.)
"""
