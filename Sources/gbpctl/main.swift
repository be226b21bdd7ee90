print("gbpctl")
