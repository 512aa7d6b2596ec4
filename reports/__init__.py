"""Reports for custody managers and the governance meeting: figures computed from a history of
events with the same engine and policy the live monitor runs, and pages that show them.

Pure: the shell (``watchkeeper report``) reads the events and writes the page (and a PDF
through headless Chromium); ``figures`` computes, ``html`` renders.
"""
