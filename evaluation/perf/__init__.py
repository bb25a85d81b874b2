"""evaluation/perf"""
