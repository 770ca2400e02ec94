name = Votre village?
fin = Merci { $nobody }, de { $name }.
