"""Reading finished results trees: error analysis, appendix metrics, paper tables, the HTML report.

Everything here reads dialogue folders and writes only under the report/output folder it is
given: analysis never deletes or rewrites a dialogue folder.
"""
