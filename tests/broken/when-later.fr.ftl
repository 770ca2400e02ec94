first = Un
second = Deux
fin = Merci
