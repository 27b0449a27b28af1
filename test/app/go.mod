module skycap.test/app

go 1.24
