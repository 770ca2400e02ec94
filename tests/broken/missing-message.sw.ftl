consent = Unakubali?
yes_no-yes = Ndiyo
fin = Asante
