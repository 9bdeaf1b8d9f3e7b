raise ImportError("this job module cannot be imported")
